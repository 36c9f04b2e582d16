// plotly.js-basic-dist-min is plotly.js (scatter, bar, pie) prebuilt: same API.
declare module 'plotly.js-basic-dist-min' {
  export * from 'plotly.js';
}
