package org.brotli.dec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

// Test stand-in for org.brotli:dec's BrotliInputStream: the compressed
// stream goes through the `brotli -d` command (Debian package brotli) and
// the decoded bytes are read back. As with the real decoder, a corrupt or
// truncated stream ends in an IOException that names Brotli (the plugin
// looks for "brotli" in the message to send download_manifest_brotli_fail).
public class BrotliInputStream extends InputStream {
    private final Process process;
    private final InputStream decoded;
    private final Thread feeder;
    private final Thread drain;
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    private volatile IOException feedError;
    private boolean eof;

    public BrotliInputStream(InputStream source) throws IOException {
        this(source, 16384);
    }

    public BrotliInputStream(InputStream source, int byteReadBufferSize) throws IOException {
        try {
            process = new ProcessBuilder("brotli", "--decompress", "--stdout").start();
        } catch (IOException e) {
            throw new IOException("Brotli decoder initialization failed: cannot run brotli: " + e.getMessage(), e);
        }
        decoded = process.getInputStream();
        feeder = new Thread(() -> {
            try (OutputStream in = process.getOutputStream()) {
                source.transferTo(in);
            } catch (IOException e) {
                feedError = e; // the decoder stopped reading: its exit status says why
            }
        }, "brotli-feed");
        feeder.setDaemon(true);
        feeder.start();
        drain = new Thread(() -> {
            try {
                process.getErrorStream().transferTo(stderr);
            } catch (IOException ignored) {}
        }, "brotli-stderr");
        drain.setDaemon(true);
        drain.start();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n == -1 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (eof) {
            return -1;
        }
        int n = decoded.read(b, off, len);
        if (n == -1) {
            eof = true;
            finish();
        }
        return n;
    }

    private void finish() throws IOException {
        try {
            int status = process.waitFor();
            feeder.join();
            drain.join();
            if (status != 0) {
                throw new IOException("Brotli stream decoding failed: " + stderr.toString().trim() + " (exit " + status + ")");
            }
            if (feedError != null) {
                throw new IOException("Brotli stream decoding failed: " + feedError.getMessage(), feedError);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("Brotli stream decoding interrupted", e);
        }
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        decoded.close();
    }
}
