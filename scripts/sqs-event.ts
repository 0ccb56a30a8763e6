import type { SQSEvent } from "aws-lambda";

/** An SQS event as Lambda's event source mapping delivers a batch of queue messages. */
export function sqsEvent(messages: readonly { messageId: string; body: string }[]): SQSEvent {
  return {
    Records: messages.map(({ messageId, body }) => ({
      messageId,
      body,
      receiptHandle: messageId,
      attributes: {} as SQSEvent["Records"][number]["attributes"],
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:lifecycle",
      awsRegion: "us-east-1",
    })),
  };
}
