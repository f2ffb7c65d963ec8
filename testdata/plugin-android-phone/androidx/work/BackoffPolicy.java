package androidx.work;

// Test stand-in: the constants as declared by WorkManager.
public enum BackoffPolicy {
    EXPONENTIAL, LINEAR
}
