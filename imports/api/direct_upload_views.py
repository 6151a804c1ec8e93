"""The PUT of API v3's second request when the server keeps its own files (no S3): answered like
S3 answers a PUT to a pre-signed URL, XML errors included, so clients written for S3 work as they
are. Not part of the OpenAPI document, as S3's own PUT is not."""

from __future__ import annotations

import base64
import uuid
from xml.sax.saxutils import escape

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from imports import embedded_uploads
from imports.embedded_uploads import Refusal, UploadRefused

METHOD_NOT_ALLOWED = Refusal(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")


@csrf_exempt
def direct_upload_put(request: HttpRequest, job_id: int) -> HttpResponse:
    if request.method != "PUT":
        response = _s3_error(METHOD_NOT_ALLOWED, request.path)
        response["Allow"] = "PUT"
        return response
    try:
        job = embedded_uploads.upload_receive(job_id=job_id, query=request.GET, headers=request.headers, body=request)
    except UploadRefused as refused:
        return _s3_error(refused.refusal, request.path)
    response = HttpResponse(status=200)
    response["ETag"] = f'"{base64.b64decode(job.checksum).hex()}"'  # S3's ETag of a single-part upload
    return response


def _s3_error(refused: Refusal, resource: str) -> HttpResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{refused.code}</Code><Message>{escape(refused.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{uuid.uuid4().hex}</RequestId></Error>"
    )
    return HttpResponse(body, status=refused.status, content_type="application/xml")
