// Local mode (the whole fleet on this machine) arrives with its own issue; see README.
console.log("ftpfleet local mode arrives with the local-mode issue. Today: `npm test` and `npm run bench`.");
