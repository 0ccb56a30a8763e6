import { declareValuePlugin, PluginKind } from "@stryker-mutator/api/plugin";

// Log text and log fields are operator output, not control-plane logic: mutants in logger calls are ignored, not tested.
const LEVELS = new Set(["debug", "info", "warn", "error"]);

/** `log.info(…)`, `cp.log.warn(…)`, `actionLog(cp, a, "launch").info(…)`: a level method of a logger. */
function isLoggerCall(node) {
  if (node?.type !== "CallExpression") return false;
  const callee = node.callee;
  if (callee.type !== "MemberExpression" || callee.computed || !LEVELS.has(callee.property.name))
    return false;
  const target = callee.object;
  if (target.type === "Identifier") return target.name === "log";
  if (target.type === "MemberExpression") return !target.computed && target.property.name === "log";
  return (
    target.type === "CallExpression" &&
    target.callee.type === "Identifier" &&
    target.callee.name === "actionLog"
  );
}

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, "logging", {
    shouldIgnore(path) {
      // The call itself, or a statement that is only that call (Stryker's "remove the call" mutant sits there).
      const node = path.node.type === "ExpressionStatement" ? path.node.expression : path.node;
      return isLoggerCall(node) ? "log message text and fields are not logic" : undefined;
    },
  }),
];
