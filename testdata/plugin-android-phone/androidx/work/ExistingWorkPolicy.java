package androidx.work;

// Test stand-in: the constants as declared by WorkManager.
public enum ExistingWorkPolicy {
    REPLACE, KEEP, APPEND, APPEND_OR_REPLACE
}
