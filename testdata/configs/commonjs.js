/** @type {import('@capacitor/cli').CapacitorConfig} */
const config = {
  appId: 'com.example.cjs',
  webDir: 'www',
};

module.exports = config;
