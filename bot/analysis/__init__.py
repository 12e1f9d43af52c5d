"""Analysis reports (研判报告): the figures of a month, quarter or half year drafted as a Word
document per unit, with plain-rule trends that name the items behind them."""
