// The security desk's page (index.html) starts here. The desk is split into modules under
// desk/ (main.js wires them); this entry keeps the page's one script at a stable address.
import "./desk/main.js";
