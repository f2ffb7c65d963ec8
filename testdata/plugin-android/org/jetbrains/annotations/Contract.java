package org.jetbrains.annotations;

// Test stand-in: the annotation has no effect at run time.
public @interface Contract {
    String value() default "";
    boolean pure() default false;
}
