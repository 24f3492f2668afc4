"""The web side: ``POST /orders`` publishes the order; the task runs elsewhere."""

from pyramid.view import view_config


@view_config(route_name="order", renderer="json")
def place_order(request):
    order_id = request.POST["order_id"]
    message_id = request.mq_publisher("cart").publish({"order_id": order_id}, "orders")
    return {"order_id": order_id, "message_id": message_id}
