package androidx.work;

// Test stand-in. The phone is always online (its server is on loopback),
// so every network constraint is met; the stand-in only keeps the value.
public final class Constraints {
    private final NetworkType requiredNetworkType;

    private Constraints(NetworkType t) {
        this.requiredNetworkType = t;
    }

    public NetworkType getRequiredNetworkType() {
        return requiredNetworkType;
    }

    public static final class Builder {
        private NetworkType type = NetworkType.NOT_REQUIRED;

        public Builder setRequiredNetworkType(NetworkType type) {
            this.type = type;
            return this;
        }

        public Constraints build() {
            return new Constraints(type);
        }
    }
}
