import type { Logger } from "@ftpfleet/core";
import type { MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";

/** Logs every invocation's failure with its request id. EventBridge and SQS do not read a
 * handler's answer, so an unlogged error would be invisible. */
export function invocationLogging(log: () => Logger): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    onError: async function logInvocationError(request) {
      log().error("invocation.failed", { requestId: request.context.awsRequestId, error: request.error });
    },
  };
}
