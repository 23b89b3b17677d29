/** The naming rules of what we deploy: Kubernetes object names and image tags. One definition each. */

/** DNS-1123 label: namespaces, release and service names (as a JSON-schema pattern too). */
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_LABEL = new RegExp(DNS1123_LABEL_PATTERN);

/** Docker's tag grammar: what ECR accepts as an image tag. */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Namespaces and other DNS-1123 labels are at most 63 characters. */
export const DNS1123_LABEL_MAX = 63;

/** An AWS region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1 … */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The longest timeout any front door accepts (24 h): longer is a typo, and helm would reject it only later. */
export const MAX_TIMEOUT_SECONDS = 24 * 60 * 60;
