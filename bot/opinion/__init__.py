"""Public-opinion handling (舆情处置) and the evaluation (总结评估) after a case ends."""
