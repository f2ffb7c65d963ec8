package android.util;

// Test stand-in for android.util.Base64 (decoding only: all the plugin's
// CryptoCipher uses). Written from the behaviour documented and observed on
// Android, not copied from AOSP:
//   - every byte outside the alphabet and '=' is skipped, not only white
//     space and line breaks (so PEM bodies and wrapped text decode);
//   - padding is optional: a final group of 2 or 3 characters decodes to 1
//     or 2 bytes; a lone final character is an error;
//   - '=' may only follow 2 or 3 characters of a group; "xx=" must be
//     completed by a second '=' ("xx=="); after the padding only skipped
//     bytes may follow;
//   - unused low bits of the last character are ignored;
//   - URL_SAFE switches the alphabet to '-' and '_'; the other flags only
//     affect encoding.
// Errors throw IllegalArgumentException("bad base-64"), as on Android.
public class Base64 {
    public static final int DEFAULT = 0;
    public static final int NO_PADDING = 1;
    public static final int NO_WRAP = 2;
    public static final int CRLF = 4;
    public static final int URL_SAFE = 8;
    public static final int NO_CLOSE = 16;

    private Base64() {}

    public static byte[] decode(String str, int flags) {
        return decode(str.getBytes(), flags);
    }

    public static byte[] decode(byte[] input, int flags) {
        return decode(input, 0, input.length, flags);
    }

    public static byte[] decode(byte[] input, int offset, int len, int flags) {
        boolean urlSafe = (flags & URL_SAFE) != 0;
        byte[] out = new byte[len / 4 * 3 + 3];
        int n = 0;
        int group = 0; // characters of the current 4-character group seen
        int bits = 0;
        int pad = 0; // '=' seen (0, 1 or 2); after a group of 3 one '=' ends it
        boolean done = false; // padding complete: only skipped bytes may follow
        for (int i = offset; i < offset + len; i++) {
            int c = input[i] & 0xff;
            int v = value(c, urlSafe);
            if (v < 0 && c != '=') {
                continue; // not in the alphabet: skipped
            }
            if (done) {
                throw bad();
            }
            if (c == '=') {
                if (pad == 0 && group < 2) {
                    throw bad();
                }
                pad++;
                if (pad == 1 && group == 3 || pad == 2) {
                    done = true;
                }
                continue;
            }
            if (pad > 0) {
                throw bad(); // "xx=" followed by a data character
            }
            bits = bits << 6 | v;
            if (++group == 4) {
                out[n++] = (byte) (bits >> 16);
                out[n++] = (byte) (bits >> 8);
                out[n++] = (byte) bits;
                group = 0;
                bits = 0;
            }
        }
        if (pad == 1 && !done) {
            throw bad(); // "xx=" without its second '='
        }
        switch (group) {
            case 1:
                throw bad();
            case 2:
                out[n++] = (byte) (bits >> 4);
                break;
            case 3:
                out[n++] = (byte) (bits >> 10);
                out[n++] = (byte) (bits >> 2);
                break;
            default:
                break;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private static int value(int c, boolean urlSafe) {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == (urlSafe ? '-' : '+')) return 62;
        if (c == (urlSafe ? '_' : '/')) return 63;
        return -1;
    }

    private static IllegalArgumentException bad() {
        return new IllegalArgumentException("bad base-64");
    }
}
