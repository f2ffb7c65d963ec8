package androidx.annotation;

// Test stand-in: the annotation has no effect at run time.
public @interface Nullable {}
