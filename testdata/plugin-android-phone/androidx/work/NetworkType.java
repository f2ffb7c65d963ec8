package androidx.work;

// Test stand-in: the constants as declared by WorkManager.
public enum NetworkType {
    NOT_REQUIRED, CONNECTED, UNMETERED, NOT_ROAMING, METERED, TEMPORARILY_UNMETERED
}
