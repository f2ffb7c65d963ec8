package androidx.work;

import java.util.concurrent.TimeUnit;

// Test stand-in: the plugin builds one only for the Background Runner
// plugin (absent here); the phone never runs periodic work.
public final class PeriodicWorkRequest extends WorkRequest {
    final long intervalMillis;

    private PeriodicWorkRequest(Builder b) {
        super(b);
        this.intervalMillis = b.intervalMillis;
    }

    public static final class Builder extends WorkRequest.Builder<Builder, PeriodicWorkRequest> {
        private final long intervalMillis;

        public Builder(Class<? extends ListenableWorker> workerClass, long repeatInterval, TimeUnit unit) {
            super(workerClass);
            this.intervalMillis = unit.toMillis(repeatInterval);
        }

        @Override
        public PeriodicWorkRequest build() {
            return new PeriodicWorkRequest(this);
        }

        @Override
        Builder self() {
            return this;
        }
    }
}
