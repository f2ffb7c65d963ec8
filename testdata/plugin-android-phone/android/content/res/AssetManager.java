package android.content.res;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;

// Test stand-in for the APK's assets: files under a folder of the phone
// (public/ holds the built-in web bundle). A missing asset throws
// FileNotFoundException, as on Android.
public final class AssetManager {
    private final File root; // null: an APK without assets

    public AssetManager(File root) {
        this.root = root;
    }

    public InputStream open(String fileName) throws IOException {
        if (root == null || fileName.startsWith("/") || fileName.contains("..")) {
            throw new FileNotFoundException(fileName);
        }
        File f = new File(root, fileName);
        if (!f.isFile()) {
            throw new FileNotFoundException(fileName);
        }
        return new FileInputStream(f);
    }
}
