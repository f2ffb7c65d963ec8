import type { CapacitorConfig } from '@capacitor/cli';

const config: CapacitorConfig = {
  appId: 'com.example.broken,
  webDir: 'dist',
};

export default config;
