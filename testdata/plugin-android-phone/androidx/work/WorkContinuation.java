package androidx.work;

// Test stand-in: a unique work chain of one request (all the plugin builds).
public final class WorkContinuation {
    private final WorkManager manager;
    private final String uniqueName;
    private final ExistingWorkPolicy policy;
    private final OneTimeWorkRequest request;

    WorkContinuation(WorkManager manager, String uniqueName, ExistingWorkPolicy policy, OneTimeWorkRequest request) {
        this.manager = manager;
        this.uniqueName = uniqueName;
        this.policy = policy;
        this.request = request;
    }

    public Operation enqueue() {
        return manager.enqueueUnique(uniqueName, policy, request);
    }
}
