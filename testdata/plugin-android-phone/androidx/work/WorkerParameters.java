package androidx.work;

import java.util.Set;
import java.util.UUID;

// Test stand-in: what WorkManager hands a worker: its id, input and tags,
// and (ours) the work it reports progress and stop state to.
public final class WorkerParameters {
    final WorkManager.Work work;

    WorkerParameters(WorkManager.Work work) {
        this.work = work;
    }

    public UUID getId() {
        return work.id;
    }

    public Data getInputData() {
        return work.request.input;
    }

    public Set<String> getTags() {
        return work.request.tags;
    }

    public int getRunAttemptCount() {
        return work.runAttemptCount;
    }
}
