package android.content.pm;

// Test stand-in: which store installed the app (API 30+).
public final class InstallSourceInfo {
    private final String installing;
    private final String initiating;

    public InstallSourceInfo(String installing, String initiating) {
        this.installing = installing;
        this.initiating = initiating;
    }

    public String getInstallingPackageName() {
        return installing;
    }

    public String getInitiatingPackageName() {
        return initiating;
    }
}
