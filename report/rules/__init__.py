"""Attribution, classification, suggestion and visibility rules: pure functions, no I/O."""
