"""Dispute handling (矛盾纠纷排查化解): intake, assignment, mediation per level (三三制),
supervision (督办), transfer to departments (转送) with feedback (反馈), the written result."""
