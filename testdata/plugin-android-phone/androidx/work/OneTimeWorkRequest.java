package androidx.work;

// Test stand-in: a request that runs its worker once (retries aside).
public final class OneTimeWorkRequest extends WorkRequest {
    private OneTimeWorkRequest(Builder b) {
        super(b);
    }

    public static final class Builder extends WorkRequest.Builder<Builder, OneTimeWorkRequest> {
        public Builder(Class<? extends ListenableWorker> workerClass) {
            super(workerClass);
        }

        @Override
        public OneTimeWorkRequest build() {
            return new OneTimeWorkRequest(this);
        }

        @Override
        Builder self() {
            return this;
        }
    }
}
