"""Text to syntax tree: lexer, recursive-descent parser and the tree's node classes."""
