/**
 * What the local operator's route modules hand back to the server (local-operator.ts): a
 * complete HTTP answer, or a refusal with its HTTP status and the `status` string of the
 * service's unencrypted error JSON (`client_error`, `invalid_token`, `unknown`, ...).
 */

/** An HTTP answer for the operator to send. */
export interface RouteAnswer {
  status: number;
  contentType: string;
  body: string | Buffer;
}

/** A request a route refuses: answered `{"status": serviceStatus, "message": message}`. */
export class RouteRefusal extends Error {
  /** The `status` of the error JSON; by default derived from the HTTP status. */
  readonly serviceStatus: string;
  constructor(
    readonly status: number,
    message: string,
    serviceStatus?: string,
  ) {
    super(message);
    this.serviceStatus = serviceStatus ?? (status === 401 ? 'unauthorized' : status < 500 ? 'client_error' : 'error');
  }
}
