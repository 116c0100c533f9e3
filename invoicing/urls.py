from django.urls import path

from invoicing import views

prefix = "projects/<int:project_id>/"
contract = f"{prefix}prime-contracts/<int:contract_id>/"
invoice = f"{prefix}invoices/<int:invoice_id>/"
urlpatterns = [
    path(f"{prefix}prime-contracts/", views.contract_list, name="contract_list"),
    path(contract, views.contract_detail, name="contract_detail"),
    path(f"{contract}invoices/", views.contract_invoices, name="contract_invoices"),
    path(invoice, views.invoice_detail, name="invoice_detail"),
    path(f"{invoice}edit/", views.invoice_edit, name="invoice_edit"),
    path(f"{invoice}erp/<str:action>/", views.invoice_erp_action, name="invoice_erp_action"),
    path(f"{prefix}invoicing/", views.invoicing, name="invoicing"),
]
