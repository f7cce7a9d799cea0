"""The /demo/ storefront: a tenant's product page where the widget is installed.

It stands in for a customer's website (the seeded site "Demo Motors", app id
``demo``) so the product can be tried and tested end to end in a browser. The
listing's data is in the context as ``car``, the shape of the widget's
``context`` command (title, url, image_url, price, ref).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

DEMO_APP_ID = "demo"

CAR_SPECS = [
    ("Year", "2019"),
    ("Mileage", "68,500 km"),
    ("Fuel", "Hybrid (petrol + electric)"),
    ("Gearbox", "Automatic (e-CVT)"),
    ("Power", "122 hp"),
    ("Consumption", "4.1 l/100 km"),
    ("Body", "Sedan, 5 seats"),
    ("Colour", "Pearl white"),
]

CAR_FEATURES = [
    "Adaptive cruise control",
    "Lane keeping assist",
    "Reversing camera",
    "Apple CarPlay & Android Auto",
    "Dual-zone climate control",
    "LED headlights",
    "Full Toyota service history",
    "12-month warranty included",
]


@require_safe
def demo_storefront(request: HttpRequest) -> HttpResponse:
    car = {
        "title": "2019 Toyota Corolla Hybrid",
        "url": request.build_absolute_uri(reverse("demo")),
        "image_url": request.build_absolute_uri(reverse("demo-car-image")),
        "price": "€18,900",
        "ref": "DM-4127",
    }
    context = {
        "car": car,
        "specs": CAR_SPECS,
        "features": CAR_FEATURES,
        "app_id": DEMO_APP_ID,
        "monthly": "€289",
    }
    return render(request, "core/demo.html", context)


@require_safe
def demo_car_image(request: HttpRequest) -> HttpResponse:
    """The listing's picture as SVG (the ``image_url`` of the context card)."""
    response = render(request, "core/demo.html#car_svg", {"standalone": True}, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=3600"
    return response
