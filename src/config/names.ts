/** The naming rules of what we deploy: Kubernetes object names and image tags. One definition each. */

/** DNS-1123 label: namespaces, release and service names (as a JSON-schema pattern too). */
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_LABEL = new RegExp(DNS1123_LABEL_PATTERN);

/** Docker's tag grammar: what ECR accepts as an image tag. */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
