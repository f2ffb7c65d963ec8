import type { CapacitorConfig } from "@capacitor/cli";

/**
 * Shared by the iOS and Android shells. See https://capacitorjs.com/docs/config
 */
const config: CapacitorConfig = {
    appId: "com.morelitea.initiative",
    appName: "Initiative",
    webDir: "dist", // vite output
    plugins: {
        SplashScreen: {
            launchShowDuration: 2000,
            backgroundColor: "#1d1d1d",
        },
        Keyboard: {
            resize: "body" as any,
            resizeOnFullScreen: true,
        },
    },
    android: {
        buildOptions: { keystorePath: "release.jks", keystoreAlias: "key0" },
    },
};

export default config;
