package androidx.work;

import com.google.common.util.concurrent.ListenableFuture;

// Test stand-in: the result of enqueueing or cancelling (always done at once here).
public final class Operation {
    public static final class State {
        private State() {}

        public static final class SUCCESS {
            private SUCCESS() {}
        }
    }

    static final Operation DONE = new Operation();

    private Operation() {}

    public ListenableFuture<State.SUCCESS> getResult() {
        return new DoneFuture<>(null);
    }
}
