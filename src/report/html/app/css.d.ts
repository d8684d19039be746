// Stylesheets imported by the app are bundled by esbuild into dist/report-app.css.
declare module '*.css';
