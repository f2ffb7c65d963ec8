// ZipCheck reads a zip the way the Android plugin does (java.util.zip.ZipInputStream,
// which throws on a STORED entry with a data descriptor and checks every CRC),
// then again through its central directory (java.util.zip.ZipFile), and prints
// one line per entry: name, method, size, crc32 (hex). It exits 1 when the two
// views disagree.
//
// Run: java ZipCheck.java bundle.zip   (Java 11+ runs a single source file as is)

import java.io.BufferedInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

public class ZipCheck {
    public static void main(String[] args) throws Exception {
        List<String> streamed = new ArrayList<>();
        try (ZipInputStream in = new ZipInputStream(new BufferedInputStream(new FileInputStream(args[0])))) {
            ZipEntry e;
            while ((e = in.getNextEntry()) != null) {
                streamed.add(describe(e, in));
            }
        }
        List<String> central = new ArrayList<>();
        try (ZipFile zf = new ZipFile(args[0])) {
            Enumeration<? extends ZipEntry> entries = zf.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                try (InputStream in = zf.getInputStream(e)) {
                    central.add(describe(e, in));
                }
            }
        }
        if (!streamed.equals(central)) {
            System.err.println("ZipInputStream and ZipFile disagree:");
            System.err.println("stream:  " + streamed);
            System.err.println("central: " + central);
            System.exit(1);
        }
        for (String line : streamed) {
            System.out.println(line);
        }
    }

    static String describe(ZipEntry e, InputStream in) throws Exception {
        CRC32 crc = new CRC32();
        byte[] buf = new byte[1 << 16];
        long n = 0;
        int k;
        while ((k = in.read(buf)) > 0) {
            crc.update(buf, 0, k);
            n += k;
        }
        String method = e.getMethod() == ZipEntry.STORED ? "stored" : "deflated";
        return e.getName() + "\t" + method + "\t" + n + "\t" + Long.toHexString(crc.getValue());
    }
}
