"""Self-contained HTML pages of fits (`page`) and maps (`map`); scripts and style in ``assets/``."""
