import type { CapacitorConfig } from '@capacitor/cli';
import { plugins } from './plugins';

const config: CapacitorConfig = {
  appId: 'com.example.shared',
  webDir: 'dist',
  plugins,
};

export default config;
