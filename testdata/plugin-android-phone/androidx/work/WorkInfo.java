package androidx.work;

import java.util.Objects;
import java.util.Set;
import java.util.UUID;

// Test stand-in: a snapshot of one work request's state, as WorkManager's
// queries and LiveData return it (equal snapshots are not delivered twice).
public final class WorkInfo {
    public enum State {
        ENQUEUED,
        RUNNING,
        SUCCEEDED,
        FAILED,
        BLOCKED,
        CANCELLED;

        public boolean isFinished() {
            return this == SUCCEEDED || this == FAILED || this == CANCELLED;
        }
    }

    private final UUID id;
    private final State state;
    private final Set<String> tags;
    private final Data outputData;
    private final Data progress;
    private final int runAttemptCount;

    WorkInfo(UUID id, State state, Set<String> tags, Data outputData, Data progress, int runAttemptCount) {
        this.id = id;
        this.state = state;
        this.tags = tags;
        this.outputData = outputData;
        this.progress = progress;
        this.runAttemptCount = runAttemptCount;
    }

    public UUID getId() {
        return id;
    }

    public State getState() {
        return state;
    }

    public Set<String> getTags() {
        return tags;
    }

    public Data getOutputData() {
        return outputData;
    }

    public Data getProgress() {
        return progress;
    }

    public int getRunAttemptCount() {
        return runAttemptCount;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof WorkInfo)) return false;
        WorkInfo w = (WorkInfo) o;
        return id.equals(w.id) && state == w.state && tags.equals(w.tags) && outputData.equals(w.outputData) &&
            progress.equals(w.progress) && runAttemptCount == w.runAttemptCount;
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, state, tags, outputData, progress, runAttemptCount);
    }

    @Override
    public String toString() {
        return "WorkInfo{" + id + ", " + state + ", " + tags + ", output " + outputData + "}";
    }
}
