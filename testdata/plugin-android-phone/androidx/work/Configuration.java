package androidx.work;

// Test stand-in: WorkManager's configuration (only the logging level is set by the plugin).
public final class Configuration {
    private final int minimumLoggingLevel;

    private Configuration(int level) {
        this.minimumLoggingLevel = level;
    }

    public int getMinimumLoggingLevel() {
        return minimumLoggingLevel;
    }

    public static final class Builder {
        private int level = android.util.Log.INFO;

        public Builder setMinimumLoggingLevel(int level) {
            this.level = level;
            return this;
        }

        public Configuration build() {
            return new Configuration(level);
        }
    }
}
