"""Owner invoices through the API: read. The item endpoints give the ERP side (state, version,
snapshot, history); the detail adds the invoice as it is now, with its lines and money as
strings."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import api_membership
from api.representations import invoice_fields, item_payload
from api.serializers import OwnerInvoiceDetailSerializer
from api.views.items import PROBLEMS, ItemViewSet
from invoicing.access import get_invoice
from invoicing.models import OwnerInvoice
from projects.access import project_access
from projects.permissions import views_erp_tool


class OwnerInvoiceViewSet(ItemViewSet):
    """The items of kind owner_invoice (api.urls), with the invoice's own fields."""

    kind_key = "owner_invoice"

    @extend_schema(responses={200: OwnerInvoiceDetailSerializer, **PROBLEMS})
    def retrieve(self, request: Request, company: str, pk: int) -> Response:
        """The invoice with its history, and its contract, billing period, lines and totals
        as they are now (`snapshot` is what was submitted for approval)."""
        invoice = self._readable(request, company, pk)
        assert isinstance(invoice, OwnerInvoice)
        if not views_erp_tool(api_membership(request, company)):
            # A sender who is not on the ERP tool reads the invoice as the project's pages let
            # them: a private contract's invoice only if they are on the contract's list.
            get_invoice(project_access(request.user, invoice.erp_project.pk), invoice.pk)
        payload = item_payload(invoice, with_history=True)
        payload["invoice"] = invoice_fields(invoice)
        return Response(payload)
