package androidx.work;

// Test stand-in: the constants as declared by WorkManager.
public enum OutOfQuotaPolicy {
    RUN_AS_NON_EXPEDITED_WORK_REQUEST, DROP_WORK_REQUEST
}
