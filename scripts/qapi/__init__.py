"""QAPI code generator package: parser -> schema model -> backends."""
