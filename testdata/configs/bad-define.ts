import { defineConfig } from './config-helpers';

export default defineConfig({
  appId: 'com.example.define',
  webDir: 'dist',
});
