// As dist/cli.js does: the pinned AWS SDK's "future releases need Node 22" warning is
// noise on Node 20 (see src/cli.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
