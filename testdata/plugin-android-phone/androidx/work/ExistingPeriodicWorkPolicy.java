package androidx.work;

// Test stand-in: the constants as declared by WorkManager.
public enum ExistingPeriodicWorkPolicy {
    REPLACE, KEEP, UPDATE, CANCEL_AND_REENQUEUE
}
