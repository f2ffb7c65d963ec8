package androidx.work;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

// Test stand-in for androidx.work.WorkRequest: what to run (a worker
// class), its input, tags and policies, as the plugin builds them.
public abstract class WorkRequest {
    public static final long MIN_BACKOFF_MILLIS = 10 * 1000L;
    public static final long DEFAULT_BACKOFF_DELAY_MILLIS = 30 * 1000L;

    private final UUID id = UUID.randomUUID();
    final Class<? extends ListenableWorker> workerClass;
    final Data input;
    final Set<String> tags;
    final Constraints constraints;
    final BackoffPolicy backoffPolicy;
    final long backoffDelayMillis;
    final long initialDelayMillis;

    WorkRequest(Builder<?, ?> b) {
        this.workerClass = b.workerClass;
        this.input = b.input;
        Set<String> t = new LinkedHashSet<>();
        t.add(b.workerClass.getName()); // WorkManager tags every request with its worker's class name
        t.addAll(b.tags);
        this.tags = Collections.unmodifiableSet(t);
        this.constraints = b.constraints;
        this.backoffPolicy = b.backoffPolicy;
        this.backoffDelayMillis = b.backoffDelayMillis;
        this.initialDelayMillis = b.initialDelayMillis;
    }

    public UUID getId() {
        return id;
    }

    public Set<String> getTags() {
        return tags;
    }

    public abstract static class Builder<B extends Builder<?, ?>, W extends WorkRequest> {
        final Class<? extends ListenableWorker> workerClass;
        Data input = Data.EMPTY;
        final Set<String> tags = new LinkedHashSet<>();
        Constraints constraints = new Constraints.Builder().build();
        BackoffPolicy backoffPolicy = BackoffPolicy.EXPONENTIAL;
        long backoffDelayMillis = DEFAULT_BACKOFF_DELAY_MILLIS;
        long initialDelayMillis;
        OutOfQuotaPolicy expedited;

        Builder(Class<? extends ListenableWorker> workerClass) {
            this.workerClass = workerClass;
        }

        public final B setInputData(Data data) {
            this.input = data;
            return self();
        }

        public final B addTag(String tag) {
            tags.add(tag);
            return self();
        }

        public final B setConstraints(Constraints constraints) {
            this.constraints = constraints;
            return self();
        }

        public final B setBackoffCriteria(BackoffPolicy policy, long delay, TimeUnit unit) {
            this.backoffPolicy = policy;
            this.backoffDelayMillis = Math.max(MIN_BACKOFF_MILLIS, unit.toMillis(delay));
            return self();
        }

        public B setInitialDelay(long delay, TimeUnit unit) {
            this.initialDelayMillis = unit.toMillis(delay);
            return self();
        }

        public B setExpedited(OutOfQuotaPolicy policy) {
            this.expedited = policy;
            return self();
        }

        public abstract W build();

        abstract B self();
    }
}
