package com.getcapacitor.plugin;

// Test stand-in: the two names of Capacitor's WebView plugin the updater
// uses: the preferences file, and the key holding the path of the web
// bundle the app serves (CapgoUpdater.CAP_SERVER_PATH).
public class WebView {
    public static final String WEBVIEW_PREFS_NAME = "CapWebViewSettings";
    public static final String CAP_SERVER_PATH = "serverBasePath";
}
