package android.app;

import android.content.SharedPreferences;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

// Test stand-in for Android's SharedPreferencesImpl, with the behaviour the
// plugin relies on:
//   - the values survive the process: every commit/apply writes the whole
//     map to a file (temp file + rename), read again by the next run, as
//     prefs survive app restarts on a phone;
//   - an Editor collects changes that become visible only on commit/apply;
//     clear() applies before the puts of the same edit; a null value
//     removes the key; an editor can be reused after commit;
//   - a getter of the wrong type throws ClassCastException.
// The file is a java.util.Properties of "<type>:<value>" entries (Android
// writes XML; the format is not observable by the plugin).
public final class SharedPreferencesImpl implements SharedPreferences {
    private final File file;
    private final Map<String, Object> values = new HashMap<>();

    public SharedPreferencesImpl(File file) {
        this.file = file;
        if (file.isFile()) {
            Properties p = new Properties();
            try (InputStream in = new FileInputStream(file)) {
                p.load(in);
            } catch (IOException e) {
                throw new IllegalStateException("read " + file + ": " + e.getMessage(), e);
            }
            for (String key : p.stringPropertyNames()) {
                values.put(key, decode(p.getProperty(key)));
            }
        }
    }

    @Override
    public synchronized Map<String, ?> getAll() {
        return new HashMap<>(values);
    }

    @Override
    public synchronized String getString(String key, String defValue) {
        Object v = values.get(key);
        return v != null ? (String) v : defValue;
    }

    @Override
    @SuppressWarnings("unchecked")
    public synchronized Set<String> getStringSet(String key, Set<String> defValues) {
        Object v = values.get(key);
        return v != null ? new HashSet<>((Set<String>) v) : defValues;
    }

    @Override
    public synchronized int getInt(String key, int defValue) {
        Object v = values.get(key);
        return v != null ? (Integer) v : defValue;
    }

    @Override
    public synchronized long getLong(String key, long defValue) {
        Object v = values.get(key);
        return v != null ? (Long) v : defValue;
    }

    @Override
    public synchronized float getFloat(String key, float defValue) {
        Object v = values.get(key);
        return v != null ? (Float) v : defValue;
    }

    @Override
    public synchronized boolean getBoolean(String key, boolean defValue) {
        Object v = values.get(key);
        return v != null ? (Boolean) v : defValue;
    }

    @Override
    public synchronized boolean contains(String key) {
        return values.containsKey(key);
    }

    @Override
    public Editor edit() {
        return new EditorImpl();
    }

    private synchronized boolean commit(Map<String, Object> changes, boolean clear) {
        if (clear) {
            values.clear();
        }
        for (Map.Entry<String, Object> e : changes.entrySet()) {
            if (e.getValue() == null) {
                values.remove(e.getKey());
            } else {
                values.put(e.getKey(), e.getValue());
            }
        }
        Properties p = new Properties();
        for (Map.Entry<String, Object> e : new TreeMap<>(values).entrySet()) {
            p.setProperty(e.getKey(), encode(e.getValue()));
        }
        try {
            file.getParentFile().mkdirs();
            File tmp = new File(file.getPath() + ".tmp");
            try (OutputStream out = new FileOutputStream(tmp)) {
                p.store(out, null);
                out.flush();
            }
            Files.move(tmp.toPath(), file.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (IOException e) {
            System.err.println("SharedPreferences: write " + file + ": " + e);
            return false;
        }
    }

    private static String encode(Object v) {
        if (v instanceof String) return "s:" + v;
        if (v instanceof Integer) return "i:" + v;
        if (v instanceof Long) return "l:" + v;
        if (v instanceof Float) return "f:" + v;
        if (v instanceof Boolean) return "b:" + v;
        if (v instanceof Set) {
            StringBuilder sb = new StringBuilder("S:");
            for (Object s : (Set<?>) v) {
                sb.append(((String) s).replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
            }
            return sb.toString();
        }
        throw new IllegalArgumentException("unsupported preference value " + v.getClass());
    }

    private static Object decode(String s) {
        String v = s.substring(2);
        switch (s.charAt(0)) {
            case 's':
                return v;
            case 'i':
                return Integer.valueOf(v);
            case 'l':
                return Long.valueOf(v);
            case 'f':
                return Float.valueOf(v);
            case 'b':
                return Boolean.valueOf(v);
            case 'S': {
                Set<String> set = new HashSet<>();
                for (String line : v.split("\n")) {
                    if (!line.isEmpty()) set.add(line.replace("\\n", "\n").replace("\\\\", "\\"));
                }
                return set;
            }
            default:
                throw new IllegalStateException("bad preference entry " + s);
        }
    }

    private final class EditorImpl implements Editor {
        private final Map<String, Object> changes = new HashMap<>();
        private boolean clear;

        @Override
        public synchronized Editor putString(String key, String value) {
            changes.put(key, value);
            return this;
        }

        @Override
        public synchronized Editor putStringSet(String key, Set<String> values) {
            changes.put(key, values == null ? null : new HashSet<>(values));
            return this;
        }

        @Override
        public synchronized Editor putInt(String key, int value) {
            changes.put(key, value);
            return this;
        }

        @Override
        public synchronized Editor putLong(String key, long value) {
            changes.put(key, value);
            return this;
        }

        @Override
        public synchronized Editor putFloat(String key, float value) {
            changes.put(key, value);
            return this;
        }

        @Override
        public synchronized Editor putBoolean(String key, boolean value) {
            changes.put(key, value);
            return this;
        }

        @Override
        public synchronized Editor remove(String key) {
            changes.put(key, null);
            return this;
        }

        @Override
        public synchronized Editor clear() {
            clear = true;
            return this;
        }

        @Override
        public synchronized boolean commit() {
            boolean ok = SharedPreferencesImpl.this.commit(changes, clear);
            changes.clear();
            clear = false;
            return ok;
        }

        @Override
        public void apply() {
            commit(); // Android writes the file later; the values are visible at once either way
        }
    }
}
