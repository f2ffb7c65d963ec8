package androidx.work;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

// Test stand-in for androidx.work.Data: an immutable map of simple values.
// As in WorkManager, build() refuses data larger than MAX_DATA_BYTES
// serialized (the plugin puts the public key, session key and checksum of
// every download in it).
public final class Data {
    public static final int MAX_DATA_BYTES = 10 * 1024;
    public static final Data EMPTY = new Builder().build();

    private final Map<String, Object> values;

    private Data(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(new HashMap<>(values));
    }

    public String getString(String key) {
        Object v = values.get(key);
        return v instanceof String ? (String) v : null;
    }

    public int getInt(String key, int defaultValue) {
        Object v = values.get(key);
        return v instanceof Integer ? (Integer) v : defaultValue;
    }

    public long getLong(String key, long defaultValue) {
        Object v = values.get(key);
        return v instanceof Long ? (Long) v : defaultValue;
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        Object v = values.get(key);
        return v instanceof Boolean ? (Boolean) v : defaultValue;
    }

    public Map<String, Object> getKeyValueMap() {
        return values;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Data && values.equals(((Data) o).values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return "Data " + new TreeMap<>(values);
    }

    public static final class Builder {
        private final Map<String, Object> values = new HashMap<>();

        public Builder putString(String key, String value) {
            values.put(key, value);
            return this;
        }

        public Builder putInt(String key, int value) {
            values.put(key, value);
            return this;
        }

        public Builder putLong(String key, long value) {
            values.put(key, value);
            return this;
        }

        public Builder putBoolean(String key, boolean value) {
            values.put(key, value);
            return this;
        }

        public Builder putAll(Data data) {
            values.putAll(data.values);
            return this;
        }

        public Data build() {
            int size = serializedSize(values);
            if (size > MAX_DATA_BYTES) {
                throw new IllegalStateException("Data cannot occupy more than " + MAX_DATA_BYTES + " bytes when serialized (" + size + ")");
            }
            return new Data(values);
        }

        // The size of WorkManager's serialization: the count, then each key
        // (writeUTF) and value (writeObject) through an ObjectOutputStream.
        private static int serializedSize(Map<String, Object> values) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(buf)) {
                out.writeInt(values.size());
                for (Map.Entry<String, Object> e : values.entrySet()) {
                    out.writeUTF(e.getKey());
                    out.writeObject(e.getValue());
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return buf.size();
        }
    }
}
