package okhttp3;

import java.io.File;
import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import okio.BufferedSink;
import okio.ByteString;
import okio.Okio;
import okio.Source;

// Ours: okhttp3.RequestBody for OkHttp 3.13 (Debian's libokhttp-java) plus
// the one OkHttp 4 method the plugin calls, create(String, MediaType).
// It goes before okhttp.jar on the class path and replaces the jar's class,
// with the same members (so the rest of OkHttp 3.13 links to it unchanged).
// OkHttp 4's String.toRequestBody and 3.13's create(MediaType, String)
// encode alike: the media type's charset, else UTF-8 with "; charset=utf-8"
// added to the media type.
public abstract class RequestBody {

    public abstract MediaType contentType();

    public long contentLength() throws IOException {
        return -1;
    }

    public abstract void writeTo(BufferedSink sink) throws IOException;

    /** OkHttp 4 (Kotlin String.toRequestBody, exposed to Java under this name). */
    public static RequestBody create(String content, MediaType contentType) {
        return create(contentType, content);
    }

    public static RequestBody create(MediaType contentType, String content) {
        Charset charset = StandardCharsets.UTF_8;
        if (contentType != null) {
            charset = contentType.charset();
            if (charset == null) {
                charset = StandardCharsets.UTF_8;
                contentType = MediaType.parse(contentType + "; charset=utf-8");
            }
        }
        return create(contentType, content.getBytes(charset));
    }

    public static RequestBody create(final MediaType contentType, final ByteString content) {
        return new ByteStringBody(contentType, content);
    }

    public static RequestBody create(MediaType contentType, byte[] content) {
        return create(contentType, content, 0, content.length);
    }

    public static RequestBody create(final MediaType contentType, final byte[] content, final int offset, final int byteCount) {
        if (content == null) {
            throw new NullPointerException("content == null");
        }
        if ((offset | byteCount) < 0 || offset > content.length || content.length - offset < byteCount) {
            throw new ArrayIndexOutOfBoundsException();
        }
        return new BytesBody(contentType, content, offset, byteCount);
    }

    public static RequestBody create(final MediaType contentType, final File file) {
        if (file == null) {
            throw new NullPointerException("file == null");
        }
        return new FileBody(contentType, file);
    }

    private static final class ByteStringBody extends RequestBody {
        private final MediaType contentType;
        private final ByteString content;

        ByteStringBody(MediaType contentType, ByteString content) {
            this.contentType = contentType;
            this.content = content;
        }

        @Override
        public MediaType contentType() {
            return contentType;
        }

        @Override
        public long contentLength() {
            return content.size();
        }

        @Override
        public void writeTo(BufferedSink sink) throws IOException {
            sink.write(content);
        }
    }

    private static final class BytesBody extends RequestBody {
        private final MediaType contentType;
        private final byte[] content;
        private final int offset;
        private final int byteCount;

        BytesBody(MediaType contentType, byte[] content, int offset, int byteCount) {
            this.contentType = contentType;
            this.content = content;
            this.offset = offset;
            this.byteCount = byteCount;
        }

        @Override
        public MediaType contentType() {
            return contentType;
        }

        @Override
        public long contentLength() {
            return byteCount;
        }

        @Override
        public void writeTo(BufferedSink sink) throws IOException {
            sink.write(content, offset, byteCount);
        }
    }

    private static final class FileBody extends RequestBody {
        private final MediaType contentType;
        private final File file;

        FileBody(MediaType contentType, File file) {
            this.contentType = contentType;
            this.file = file;
        }

        @Override
        public MediaType contentType() {
            return contentType;
        }

        @Override
        public long contentLength() {
            return file.length();
        }

        @Override
        public void writeTo(BufferedSink sink) throws IOException {
            try (Source source = Okio.source(file)) {
                sink.writeAll(source);
            }
        }
    }
}
