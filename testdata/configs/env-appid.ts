import type { CapacitorConfig } from '@capacitor/cli';

const isDev = process.env.NODE_ENV === 'development';
const config: CapacitorConfig = {
  appId: process.env.APP_ID ?? 'com.example.flavors',
  appName: `Flavors ${isDev ? 'dev' : ''}`,
  webDir: 'dist',
  server: isDev ? { url: 'http://192.168.1.10:5173', cleartext: true } : undefined,
  plugins: {
    CapacitorUpdater: {
      autoUpdate: !isDev,
    },
  },
};

export default config;
