package ee.forgr.capacitor_updater;

// Harness does with one update answer what an Android device running
// @capgo/capacitor-updater 8.51.x does, through the plugin's own code:
// CryptoCipher.java and Logger.java compiled from the npm package, and
// UpdaterSlice (members of CapgoUpdater.java copied at test time). The
// sequence follows CapgoUpdater.finishDownload: require a session key and a
// checksum, decrypt the file in place, decrypt the checksum, compare it with
// the SHA-256 of the decrypted zip (String.equals), unzip with
// ZipInputStream, flatten, and require index.html (bundleExists).
//
//   install PUBKEY_FILE SESSION_KEY CHECKSUM BUNDLE WORKDIR
//       PUBKEY_FILE holds the config's publicKey string exactly (UTF-8);
//       BUNDLE is copied to WORKDIR as the download. Prints, tab-separated:
//         key_id  <what the plugin sends as key_id>
//         file    <path>  <size>  <sha256>      (one per installed file, sorted)
//         stats   <actions the plugin would have sent, comma-separated>
//         result  OK  <files>  <bytes>
//       or  result  ERROR  <stage>  <message>   (stage: key, verify, unzip, install)
//       and, after an unzip failure (the plugin drops the cause),
//         cause   <exception from a plain ZipInputStream pass>
//       Exit 0 when OK, 1 on ERROR.
//   base64 FLAGS TEXT [FLAGS TEXT ...]
//       Decodes each TEXT with android.util.Base64 (the stub under test);
//       prints lowercase hex or "ERROR <message>", one line each.

import java.io.BufferedInputStream;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

public final class Harness {

    private static final PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    public static void main(String[] args) throws Exception {
        if (args.length == 6 && args[0].equals("install")) {
            System.exit(install(args[1], args[2], args[3], args[4], args[5]));
        }
        if (args.length >= 3 && args.length % 2 == 1 && args[0].equals("base64")) {
            for (int i = 1; i < args.length; i += 2) {
                try {
                    out.println(hex(android.util.Base64.decode(args[i + 1], Integer.parseInt(args[i]))));
                } catch (IllegalArgumentException e) {
                    out.println("ERROR " + e.getMessage());
                }
            }
            return;
        }
        System.err.println("usage: Harness install PUBKEY_FILE SESSION_KEY CHECKSUM BUNDLE WORKDIR | base64 FLAGS TEXT...");
        System.exit(2);
    }

    private static int install(String keyFile, String sessionKey, String checksumRes, String bundle, String workDir) throws Exception {
        final Logger logger = new Logger("CapgoUpdater");
        CryptoCipher.setLogger(logger);
        final String publicKey = Files.readString(Path.of(keyFile), StandardCharsets.UTF_8);
        final UpdaterSlice updater = new UpdaterSlice(logger, new File(workDir));
        final String id = "Hx0Harness"; // the plugin uses a random 10-character id
        final String dest = "Dl0Harness";

        // CapacitorUpdaterPlugin.load: setPublicKey(config publicKey); a key
        // it cannot parse stops the app.
        try {
            updater.setPublicKey(publicKey);
        } catch (RuntimeException e) {
            return fail(updater, "key", e);
        }
        out.println("key_id\t" + escape(updater.getKeyId()));

        // DownloadService wrote the download to documentsDir/dest.
        final File downloaded = new File(updater.documentsDir, dest);
        Files.copy(Path.of(bundle), downloaded.toPath(), StandardCopyOption.REPLACE_EXISTING);

        // CapgoUpdater.finishDownload, first block.
        String checksum;
        try {
            updater.requireUpdateAnswer(sessionKey, checksumRes);
            String expectedChecksum = Objects.requireNonNullElse(checksumRes, "");
            if (CryptoCipher.isValidSessionKey(sessionKey)) {
                CryptoCipher.decryptFile(downloaded, updater.publicKey, sessionKey);
                expectedChecksum = CryptoCipher.decryptChecksum(checksumRes, updater.publicKey);
            }
            checksum = CryptoCipher.calcChecksum(downloaded);
            if (!expectedChecksum.equals(checksum)) {
                updater.sendStats("checksum_fail");
                throw new IOException("Checksum failed: " + id + " (expected " + expectedChecksum + ", got " + checksum + ")");
            }
        } catch (Exception e) {
            return fail(updater, "verify", e);
        }

        // CapgoUpdater.finishDownload, second block.
        final File extracted;
        try {
            extracted = updater.extract(id, downloaded, "capgo_unzip_Hx0Harness");
        } catch (IOException e) {
            int rc = fail(updater, "unzip", e);
            out.println("cause\t" + escape(zipCause(downloaded)));
            return rc;
        }
        final File bundleDir;
        try {
            bundleDir = updater.install(id, extracted);
        } catch (IOException e) {
            return fail(updater, "install", e);
        }
        // CapgoUpdater.bundleExists: the bundle is usable only with an index.html.
        if (!bundleDir.isDirectory() || !new File(bundleDir.getPath(), "/index.html").exists()) {
            return fail(updater, "install", new IOException("no index.html at the root of the installed bundle"));
        }

        List<Path> files;
        try (Stream<Path> walk = Files.walk(bundleDir.toPath())) {
            files = walk.filter(Files::isRegularFile).sorted().collect(java.util.stream.Collectors.toList());
        }
        long bytes = 0;
        for (Path p : files) {
            long size = Files.size(p);
            bytes += size;
            String rel = bundleDir.toPath().relativize(p).toString().replace(File.separatorChar, '/');
            out.println("file\t" + escape(rel) + "\t" + size + "\t" + sha256(p));
        }
        out.println("stats\t" + String.join(",", updater.stats));
        out.println("result\tOK\t" + files.size() + "\t" + bytes);
        return 0;
    }

    private static int fail(UpdaterSlice updater, String stage, Exception e) {
        out.println("stats\t" + String.join(",", updater.stats));
        out.println("result\tERROR\t" + stage + "\t" + escape(e.getClass().getSimpleName() + ": " + e.getMessage()));
        return 1;
    }

    // zipCause reads the zip again with a plain ZipInputStream and returns the
    // exception it throws (the plugin's unzip replaces it with "Failed to unzip").
    private static String zipCause(File zip) {
        try (ZipInputStream zis = new ZipInputStream(new BufferedInputStream(new FileInputStream(zip)))) {
            ZipEntry e;
            byte[] buf = new byte[8192];
            while ((e = zis.getNextEntry()) != null) {
                while (zis.read(buf) != -1) {}
            }
            return "none: a plain ZipInputStream reads every entry";
        } catch (IOException e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    private static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) != -1) md.update(buf, 0, n);
        }
        return hex(md.digest());
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    private static String escape(String s) {
        return s == null ? "null" : s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
    }
}
