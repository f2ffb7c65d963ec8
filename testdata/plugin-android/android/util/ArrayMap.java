package android.util;

// Test stand-in for android.util.ArrayMap: a Map with the same contract
// (the plugin's Logger only puts, gets and iterates).
public final class ArrayMap<K, V> extends java.util.HashMap<K, V> {}
